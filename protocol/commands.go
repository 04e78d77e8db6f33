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

	// CommandReceiveFiles lets a browser send files to the desktop. It is
	// streamed (file_begin, chunks, file_end; see transfer.go), never sent
	// as a command frame. Its CommandSpec in hello (ReceiveFilesSpec) has
	// the arguments of a FileBegin; size's max is the largest file the
	// owner accepts.
	CommandReceiveFiles = "receive_files"
)
