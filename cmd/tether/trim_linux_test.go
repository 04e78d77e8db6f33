package main

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// exeRSS is how many kB of this program's own file are resident.
func exeRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kb, inExe := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 6 && strings.Contains(fields[0], "-"):
			inExe = fields[5] == exe
		case len(fields) >= 2 && fields[0] == "Rss:" && inExe:
			n, _ := strconv.Atoi(fields[1])
			kb += n
		}
	}
	return kb
}

// TestReleaseStartupPages: the program's read-only pages go back to the
// kernel (the resident part of the program file shrinks), and the program
// runs on, its code faulting back in as used.
func TestReleaseStartupPages(t *testing.T) {
	before := exeRSS(t)
	n, err := releaseStartupPages()
	if errors.Is(err, unix.EINVAL) {
		t.Skip("this kernel has no MADV_PAGEOUT (Linux 5.4)")
	}
	if err != nil || n == 0 {
		t.Fatalf("releaseStartupPages = %d, %v", n, err)
	}
	after := exeRSS(t)
	t.Logf("program file resident: %d kB before, %d kB after asking to page out %d kB", before, after, n>>10)
	if after >= before {
		t.Errorf("resident part of the program file did not shrink: %d kB before, %d kB after", before, after)
	}
	if s := strconv.Itoa(12345); s != "12345" { // code runs on after its pages went out
		t.Fatal(s)
	}
}
