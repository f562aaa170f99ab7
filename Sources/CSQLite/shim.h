// The system SQLite's process-wide settings. sqlite3_config is variadic, which Swift cannot
// call; these wrappers can be.
#ifndef EMREG_CSQLITE_SHIM_H
#define EMREG_CSQLITE_SHIM_H

#include <sqlite3.h>

// Turns off SQLite's memory statistics, which nothing here reads. While they are on, every
// allocation and free inside SQLite takes one process-wide mutex to count itself: 4 % of a
// pulling clinic's CPU (perf). Only takes effect before SQLite's first connection (SQLITE_MISUSE
// after it, which changes nothing).
static inline int emreg_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#endif
