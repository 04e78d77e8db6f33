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
)
