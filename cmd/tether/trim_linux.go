package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseStartupPages hands the pages of this program's own file that are
// mapped read-only (code, read-only data, the function tables) back to the
// kernel with MADV_PAGEOUT. On kernels that map the page cache in large
// folios, every page of the binary that start-up touched, and most that it
// did not, stays resident for good: about 10 MB of the agent's RSS. After
// start-up the agent runs a small part of its code; that part faults back
// in from the file when used, the rest stays out. Nothing changes in what
// the program does: the pages are clean copies of the file (a page written
// at load time, the relocated RELRO data, is dirty and kept by the kernel).
// It returns how many bytes it asked to page out.
func releaseStartupPages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("find the program file: %w", err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("read the memory map: %w", err)
	}
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// 00400000-008bc000 r-xp 00002000 fe:00 10251470   /path/to/tether
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[5] != exe || strings.Contains(f[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		if err := madvise(uintptr(start), uintptr(end-start), unix.MADV_PAGEOUT); err != nil {
			return total, fmt.Errorf("madvise %s: %w", f[0], err)
		}
		total += int64(end - start)
	}
	return total, nil
}

// madvise is unix.Madvise on an address range that no Go slice describes.
func madvise(addr, length uintptr, advice int) error {
	if _, _, e := unix.Syscall(unix.SYS_MADVISE, addr, length, uintptr(advice)); e != 0 {
		return e
	}
	return nil
}
