import Testing
@Test func syncPlaceholder() {}
