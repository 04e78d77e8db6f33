package control

import (
	"os"
	"path/filepath"
	"testing"
)

// leaveBehind makes s leave control.json when closed, as a killed agent does.
func leaveBehind(s *Server) { s.ln = s.ln.(*fileListener).Listener }

// checkOwnerOnly checks that control.json is there; its access is the config
// directory's (the user profile's ACL), which Wine cannot show.
func checkOwnerOnly(t *testing.T, dir string) {
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
}
