//go:build !linux

package telemetry

import (
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
)

// platformReaders are gopsutil's readers: on Linux the agent reads /proc
// itself (proc_linux.go).
func platformReaders() readers {
	return readers{times: cpu.TimesWithContext, memory: mem.VirtualMemoryWithContext, diskIO: gopsutilDiskIO,
		netIO: gopsutilNetIO}
}
