package connect

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/jackc/pgx/v5"
)

// A Provider authenticates the connections of one auth method. The cloud
// methods live in pkg/connect/<name> (aws, azure, google), each importing
// only its own cloud's SDK, and register a ProviderFactory from init(); a
// binary links a method by importing its folder for side effects.
type Provider interface {
	// Prepare is called before every physical connection attempt, with a
	// fresh copy of that attempt's pgx configuration. It sets what its
	// method needs: a token as cfg.Password, fetched now so that every
	// connection gets a fresh one (an open session outlives its token); a
	// DialFunc for connectors that tunnel (Cloud SQL); TLS settings. An
	// error carrying a fault kind keeps it (fault.Config for a bad setting);
	// any other error is a connection failure (exit 11), retried when
	// Transient says so (a method Transient() bool on the error decides).
	Prepare(ctx context.Context, cfg *pgx.ConnConfig) error
}

// ProviderFunc adapts a function to Provider.
type ProviderFunc func(ctx context.Context, cfg *pgx.ConnConfig) error

// Prepare calls f.
func (f ProviderFunc) Prepare(ctx context.Context, cfg *pgx.ConnConfig) error { return f(ctx, cfg) }

// A ProviderFactory builds a method's Provider from the resolved settings.
// It runs once per Target, lazily, before its first connection, so a cold
// start that never connects creates no cloud client. It may keep clients for
// the Target's life; if the Provider is an io.Closer, Target.Close closes it.
type ProviderFactory func(ctx context.Context, c *Config) (Provider, error)

var registry = struct {
	sync.RWMutex
	m map[AuthMethod]ProviderFactory
}{m: map[AuthMethod]ProviderFactory{}}

// RegisterProvider makes method available to every Target in the binary. It
// is meant for init() of a provider package and panics when the method is
// already registered.
func RegisterProvider(method AuthMethod, f ProviderFactory) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[method]; dup {
		panic(fmt.Sprintf("connect: auth method %q registered twice", method))
	}
	registry.m[method] = f
}

// RegisteredMethods lists the methods this binary can use, password first.
func RegisteredMethods() []AuthMethod {
	registry.RLock()
	defer registry.RUnlock()
	out := []AuthMethod{AuthPassword}
	for m := range registry.m {
		if m != AuthPassword {
			out = append(out, m)
		}
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i] < out[1+j] })
	return out
}

func registeredFactory(method AuthMethod) (ProviderFactory, bool) {
	registry.RLock()
	defer registry.RUnlock()
	f, ok := registry.m[method]
	return f, ok
}

// passwordProvider leaves the configuration as resolved: the password came
// from PGPASSWORD, the connection string or the password file.
func passwordProvider(context.Context, *Config) (Provider, error) { return nil, nil }
