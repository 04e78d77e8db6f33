//go:build !linux

package desktop

import "context"

// notifyActions shows title and body without buttons: the backends here
// have none yet, so chosen is never called. It blocks like notify.
func (n *notifier) notifyActions(ctx context.Context, title, body string, _ []string, _ func(string)) error {
	return n.notify(ctx, title, body)
}

// close has nothing to stop: no notification is awaited here.
func (*notifier) close() {}
