//go:build !darwin || cgo

package tray

import (
	"context"
	"runtime"
	"sync"

	"fyne.io/systray"

	"github.com/tether-desktop/tether/assets"
)

// Run shows the tray icon and menu of c until ctx ends, then removes them.
// It must be called on the main goroutine (macOS needs the main thread),
// at most once per process (fyne.io/systray cannot start twice), and on
// Linux only when SessionBusAvailable reports nil (systray v1.12.2 panics at
// quit without a session bus). It blocks; c.Run runs inside it, and every
// goroutine it starts has ended when it returns.
func Run(ctx context.Context, c *Controller) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	onReady := func() {
		b := &binding{items: map[string]*systray.MenuItem{}}
		wg.Go(func() {
			c.Run(ctx, func(m Model) { b.render(ctx, &wg, c, m) })
		})
		wg.Go(func() {
			<-ctx.Done()
			systray.Quit()
		})
	}
	systray.Run(onReady, func() { cancel() })
	cancel()
	wg.Wait()
	return nil
}

// binding mirrors Items onto systray's menu. Only the goroutine of
// Controller.Run touches it.
type binding struct {
	items map[string]*systray.MenuItem
	icon  string
	tip   string
}

func (b *binding) render(ctx context.Context, wg *sync.WaitGroup, c *Controller, m Model) {
	if icon := IconState(m); icon != b.icon {
		b.icon = icon
		setIcon(icon)
	}
	if tip := Tooltip(m); tip != b.tip {
		b.tip = tip
		systray.SetTooltip(tip)
		systray.SetTitle("Tether")
	}
	items := Items(m)
	for _, it := range items {
		b.apply(ctx, wg, c, nil, it)
	}
	b.hideGone(items)
}

// hideGone hides the menu items no longer in the model (a custom command
// removed from its file, a browser unpaired): systray cannot remove an
// item. Items of later models with the same id show again.
func (b *binding) hideGone(items []Item) {
	live := map[string]bool{}
	var walk func([]Item)
	walk = func(its []Item) {
		for _, it := range its {
			live[it.ID] = true
			walk(it.Children)
		}
	}
	walk(items)
	for id, mi := range b.items {
		if mi != nil && !live[id] {
			mi.Hide()
		}
	}
}

func (b *binding) apply(ctx context.Context, wg *sync.WaitGroup, c *Controller, parent *systray.MenuItem, it Item) {
	mi, ok := b.items[it.ID]
	if !ok {
		switch {
		case it.Separator && parent == nil:
			systray.AddSeparator()
			b.items[it.ID] = nil
			return
		case it.Separator:
			parent.AddSeparator()
			b.items[it.ID] = nil
			return
		case parent == nil && it.Checkable:
			mi = systray.AddMenuItemCheckbox(it.Title, it.Tooltip, it.Checked)
		case parent == nil:
			mi = systray.AddMenuItem(it.Title, it.Tooltip)
		case it.Checkable:
			mi = parent.AddSubMenuItemCheckbox(it.Title, it.Tooltip, it.Checked)
		default:
			mi = parent.AddSubMenuItem(it.Title, it.Tooltip)
		}
		b.items[it.ID] = mi
		id := it.ID
		// systray drops a click when nobody is receiving: keep a
		// receiver on every item.
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-mi.ClickedCh:
					c.Click(id)
				}
			}
		})
		b.setFlags(mi, it, true)
	} else if mi != nil {
		b.setFlags(mi, it, false)
	}
	for _, ch := range it.Children {
		b.apply(ctx, wg, c, mi, ch)
	}
}

func (b *binding) setFlags(mi *systray.MenuItem, it Item, fresh bool) {
	if !fresh {
		mi.SetTitle(it.Title)
		mi.SetTooltip(it.Tooltip)
	}
	if it.Checkable && mi.Checked() != it.Checked {
		if it.Checked {
			mi.Check()
		} else {
			mi.Uncheck()
		}
	}
	if mi.Disabled() != it.Disabled {
		if it.Disabled {
			mi.Disable()
		} else {
			mi.Enable()
		}
	}
	if it.Hidden {
		mi.Hide()
	} else {
		mi.Show()
	}
}

// setIcon sets the icon of state in the format of this OS.
func setIcon(state string) {
	switch runtime.GOOS {
	case "windows":
		if b, err := assets.ICO(state); err == nil {
			systray.SetIcon(b)
		}
	case "darwin":
		tmpl, err1 := assets.Template(state, true)
		reg, err2 := assets.PNG(state, 32)
		if err1 == nil && err2 == nil {
			systray.SetTemplateIcon(tmpl, reg)
		}
	default:
		if b, err := assets.PNG(state, IconSize); err == nil {
			systray.SetIcon(b)
		}
	}
}

// IconSize is the PNG size given to StatusNotifierItem hosts on Linux and the
// BSDs; panels scale it to their height.
const IconSize = 22
