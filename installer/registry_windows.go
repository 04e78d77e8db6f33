package installer

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

const runSubkey = `Software\Microsoft\Windows\CurrentVersion\Run`

func readRunValue() (string, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runSubkey, registry.QUERY_VALUE)
	if err != nil {
		return "", fmt.Errorf("open the Run key: %w", err)
	}
	defer k.Close()
	v, _, err := k.GetStringValue(RunValue)
	if errors.Is(err, registry.ErrNotExist) {
		return "", nil
	}
	return v, err
}

func writeRunValue(cmd string) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runSubkey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("install: open the Run key: %w", err)
	}
	defer k.Close()
	if err := k.SetStringValue(RunValue, cmd); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	return nil
}

func deleteRunValue() error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runSubkey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("uninstall: open the Run key: %w", err)
	}
	defer k.Close()
	if err := k.DeleteValue(RunValue); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("uninstall: %w", err)
	}
	return nil
}
