//go:build !windows

package main

import "log/slog"

// watchEndSession does nothing outside Windows: SIGINT and SIGTERM reach
// every program there (see run in cli.go).
func watchEndSession(stop func(), log *slog.Logger) (done func()) { return func() {} }
