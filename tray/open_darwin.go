package tray

func openCommand(url string) (string, []string) { return "open", []string{url} }
