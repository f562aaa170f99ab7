import Testing
@Test func placeholderRegistryStoreTests() {}
