enum _PlaceholderRegistryReports {}
