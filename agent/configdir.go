package agent

import (
	"log/slog"
	"path/filepath"

	"github.com/tether-desktop/tether/internal/perm"
)

// privateConfigDir creates the config directory dir with mode 0700, or makes
// an existing one private: group and other permissions are removed from it
// and from the credentials and settings files in it (each change logged on
// log), and a directory or file owned by another user is refused.
func privateConfigDir(dir string, log *slog.Logger) error {
	if err := perm.PrivateDir(dir, log); err != nil {
		return err
	}
	for _, name := range []string{CredentialsFile, SettingsFile} {
		if err := perm.PrivateFile(filepath.Join(dir, name), log); err != nil {
			return err
		}
	}
	return nil
}
