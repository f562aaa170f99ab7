// libdeflate (libdeflate-dev): whole-buffer gzip, about twice zlib's speed compressing at level 1
// and three times inflating (Sources/RegistrySync/Gzip.swift).
#ifndef EMREG_CDEFLATE_SHIM_H
#define EMREG_CDEFLATE_SHIM_H

#include <libdeflate.h>

#endif
