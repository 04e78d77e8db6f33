//go:build windows

package inbox

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// freeSpace returns the bytes the user may still write on the volume of
// dir (GetDiskFreeSpaceEx's free bytes available to the caller).
func freeSpace(dir string) (uint64, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, err
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return 0, err
	}
	return avail, nil
}

func isNoSpace(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}

// zoneIdentifier marks a file as downloaded from the Internet (zone 3),
// as browsers do, so Windows warns before running it.
const zoneIdentifier = "[ZoneTransfer]\r\nZoneId=3\r\n"

// markFromInternet writes the mark of the web to path's Zone.Identifier
// stream; it moves with the file when the file is renamed. File systems
// without streams (FAT) cannot hold it: the file is saved unmarked.
func markFromInternet(path string) {
	os.WriteFile(path+":Zone.Identifier", []byte(zoneIdentifier), 0o600)
}
