/* The placeholder kenning overwrites in the ELF (volatile: the compiler must not fold the
 * zero length into the code). */
#include "ksecret.h"

__attribute__((used, aligned(4))) const volatile ksecret kenning_secret = {
    "kenning-secret1", 0, {0},
};
