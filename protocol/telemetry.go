package protocol

// The sensors of a telemetry sample beyond CPU and memory. Each is optional:
// a sensor the computer does not have (no battery, no temperature sensors,
// no display for the idle time) is simply absent, never an error. The agent
// reads each at its own pace and sends its latest reading in every sample.

// DiskUsage is the use of one mounted file system.
type DiskUsage struct {
	Mount       string  `json:"mount"`  // where it is mounted: "/", "/home", "C:"
	FSType      string  `json:"fstype"` // "ext4", "NTFS", "apfs"
	TotalBytes  uint64  `json:"total_bytes"`
	UsedBytes   uint64  `json:"used_bytes"`
	UsedPercent float64 `json:"used_percent"` // 0–100
}

// IORates are bytes per second read and written (disks) or received and
// sent (network), averaged since the previous reading.
type IORates struct {
	ReadBytesPerS  float64 `json:"read_bytes_per_s,omitempty"`
	WriteBytesPerS float64 `json:"write_bytes_per_s,omitempty"`
}

// NetRates are the network's receive and send rates, in total and per
// interface (loopback left out).
type NetRates struct {
	RxBytesPerS float64    `json:"rx_bytes_per_s"`
	TxBytesPerS float64    `json:"tx_bytes_per_s"`
	Interfaces  []NetIface `json:"interfaces,omitempty"`
}

// NetIface is one network interface's rates.
type NetIface struct {
	Name        string  `json:"name"`
	RxBytesPerS float64 `json:"rx_bytes_per_s"`
	TxBytesPerS float64 `json:"tx_bytes_per_s"`
}

// Battery is the state of the computer's battery (the first, when several).
type Battery struct {
	Percent  float64 `json:"percent"`  // charge, 0–100
	Charging bool    `json:"charging"` // on mains power and charging
	// SecondsLeft is the time to empty while discharging, or to full while
	// charging, when the OS estimates it; absent otherwise.
	SecondsLeft *float64 `json:"seconds_left,omitempty"`
}

// Load is the load average over 1, 5 and 15 minutes (Unix only).
type Load struct {
	Load1  float64 `json:"load1"`
	Load5  float64 `json:"load5"`
	Load15 float64 `json:"load15"`
}

// Temperature is one temperature sensor's reading.
type Temperature struct {
	Sensor  string  `json:"sensor"` // the OS's name, e.g. "coretemp_package_id_0"
	Celsius float64 `json:"celsius"`
}
