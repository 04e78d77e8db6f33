package web_test

import (
	"strings"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

// TestOwnPairingOnRealRelay: the page says how this browser is paired with
// the selected device ("Paired as Chrome on Linux since …", the name the
// computer's owner sees in `tether browsers`); when the owner unpairs this
// one browser by its pairing id, the page says that its access was removed.
func TestOwnPairingOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 1280, 900)
	a := startSimAgent(t, relay, studio(t, "beep"))
	a.pairIn(t, ctx, relay)
	waitFor(t, ctx, "own pairing shown", `(document.getElementById('paired-as')?.textContent || '').startsWith('Paired as Chrome on Linux since ')`)
	if eval[bool](t, ctx, `document.getElementById('paired-as').hidden`) {
		t.Error("the own pairing line is hidden")
	}

	var list []protocol.PairedBrowser
	if st := postJSON(t, "GET", relay+"/api/v1/device/pairings", a.token, nil, &list); st != 200 || len(list) != 1 || list[0].Name != "Chrome on Linux" {
		t.Fatalf("the owner's list: %d %+v", st, list)
	}
	if st := postJSON(t, "DELETE", relay+"/api/v1/device/pairings/"+list[0].ID, a.token, nil, nil); st != 204 {
		t.Fatalf("unpair this browser: status %d", st)
	}
	waitFor(t, ctx, "access removed", `!document.querySelector('#devices [data-device]') && !document.getElementById('access-notice').hidden`)
	if s := eval[string](t, ctx, text("access-notice")); !strings.Contains(s, "removed your access to “studio”") {
		t.Errorf("notice after the owner unpaired this browser = %q", s)
	}
}
