package desktop

// DownloadsDir returns the user's Downloads folder: XDG_DOWNLOAD_DIR on
// Linux and the BSDs (from the environment or ~/.config/user-dirs.dirs),
// the Downloads known folder on Windows, ~/Downloads elsewhere. Files
// sent from the control page are saved in its Tether folder. It does not
// create the folder.
func (d *Desktop) DownloadsDir() (string, error) { return downloadsDir() }
