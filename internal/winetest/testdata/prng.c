/* A test-only bcryptprimitives.dll for Wine 8, which lacks ProcessPrng: every
 * Go >= 1.22 Windows binary calls it at start. It is copied into the test's
 * own Wine prefix and never shipped. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T n) {
	return BCryptGenRandom(NULL, data, (ULONG)n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}
