print("emreg")
