package protocol

import (
	"slices"
	"testing"
)

// TestCommandConstantsAreTheKnownCommands: every Command… constant is in
// KnownCommands and KnownCommands holds nothing else.
func TestCommandConstantsAreTheKnownCommands(t *testing.T) {
	consts := []string{CommandBeep, CommandNotify, CommandScreenshot, CommandMouseMove,
		CommandMouseClick, CommandTypeText, CommandOpenURL, CommandLockScreen, CommandSleep,
		CommandVolume, CommandMedia, CommandClipboardGet, CommandClipboardSet, CommandReceiveFiles}
	got, want := slices.Sorted(slices.Values(KnownCommands)), slices.Sorted(slices.Values(consts))
	if !slices.Equal(got, want) {
		t.Errorf("KnownCommands %v, constants %v", got, want)
	}
}
