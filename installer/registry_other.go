//go:build !windows

package installer

// The Windows Run key exists only on Windows.
func readRunValue() (string, error) { return "", ErrUnsupported }
func writeRunValue(string) error    { return ErrUnsupported }
func deleteRunValue() error         { return ErrUnsupported }
