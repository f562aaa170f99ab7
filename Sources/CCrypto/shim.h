// OpenSSL's libcrypto, for SHA-256 only. The low-level SHA256_* calls go straight to the
// CPU's SHA extensions (or AVX2) without OpenSSL 3's per-call algorithm fetch; they are
// marked deprecated in favour of EVP, which costs more per short message.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
