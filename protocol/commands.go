package protocol

// Names of the built-in commands of the contract: the values of
// Message.Name on a command and of CommandSpec.Name. KnownCommands lists
// them all.
const (
	CommandBeep       = "beep"
	CommandNotify     = "notify"
	CommandScreenshot = "screenshot"
	CommandMouseMove  = "mouse_move"
	CommandMouseClick = "mouse_click"
	CommandTypeText   = "type_text"
	CommandOpenURL    = "open_url"

	CommandLockScreen   = "lock_screen"   // lock the session now
	CommandSleep        = "sleep"         // suspend the computer
	CommandVolume       = "volume"        // set the output volume, mute or unmute
	CommandMedia        = "media"         // play/pause, next, previous in the media player
	CommandClipboardGet = "clipboard_get" // read the clipboard's text
	CommandClipboardSet = "clipboard_set" // put text on the clipboard
)
