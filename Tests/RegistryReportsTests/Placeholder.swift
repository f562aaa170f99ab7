import Testing
@Test func placeholderRegistryReportsTests() {}
