import Synchronization

typealias Mutex = Synchronization.Mutex
