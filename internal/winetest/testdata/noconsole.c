/* Test-only (internal/winetest): starts a program the way cmd.exe starts a
 * GUI-subsystem program from a console window, with no standard handles of
 * its own, then copies what the console shows into a file. Never shipped.
 * Usage: noconsole.exe OUTFILE COMMANDLINE */
#include <windows.h>
#include <stdio.h>

int main(int argc, char **argv) {
	if (argc != 3) return 2;
	FreeConsole();
	if (!AllocConsole()) return 3;
	/* Room for everything the program prints: nothing scrolls away. */
	COORD size = {200, 1000};
	SetConsoleScreenBufferSize(GetStdHandle(STD_OUTPUT_HANDLE), size);
	STARTUPINFOA si = {0};
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	PROCESS_INFORMATION pi;
	if (!CreateProcessA(NULL, argv[2], NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) return 4;
	if (WaitForSingleObject(pi.hProcess, 60000) != WAIT_OBJECT_0) return 5;
	HANDLE con = CreateFileA("CONOUT$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
	CONSOLE_SCREEN_BUFFER_INFO info;
	if (con == INVALID_HANDLE_VALUE || !GetConsoleScreenBufferInfo(con, &info)) return 6;
	FILE *f = fopen(argv[1], "wb");
	if (!f) return 7;
	char line[1024];
	for (SHORT y = 0; y <= info.dwCursorPosition.Y; y++) {
		DWORD n = 0;
		COORD at = {0, y};
		DWORD w = info.dwSize.X < (SHORT)sizeof line ? info.dwSize.X : sizeof line;
		ReadConsoleOutputCharacterA(con, line, w, at, &n);
		while (n > 0 && line[n - 1] == ' ') n--;
		fwrite(line, 1, n, f);
		fputc('\n', f);
	}
	fclose(f);
	return 0;
}
