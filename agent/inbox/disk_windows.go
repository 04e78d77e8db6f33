//go:build windows

package inbox

import (
	"errors"
	"os"
	"path/filepath"

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
// stream; it stays with the file when the file gets its name. Volumes
// without named streams (FAT, exFAT, Wine's drives, where the write would
// make a file called "name:Zone.Identifier") cannot hold it: the file is
// saved unmarked.
func markFromInternet(path string) {
	if namedStreams(path) {
		os.WriteFile(path+":Zone.Identifier", []byte(zoneIdentifier), 0o600)
	}
}

// namedStreams reports whether the volume of path supports alternate data
// streams (GetVolumeInformation's FILE_NAMED_STREAMS).
func namedStreams(path string) bool {
	root, err := windows.UTF16PtrFromString(filepath.VolumeName(path) + `\`)
	if err != nil {
		return false
	}
	var flags uint32
	if err := windows.GetVolumeInformation(root, nil, 0, nil, nil, &flags, nil, 0); err != nil {
		return false
	}
	return flags&windows.FILE_NAMED_STREAMS != 0
}
