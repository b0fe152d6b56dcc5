package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestHostJSON: the host starts the custom handler by the executable name
// the build produces, sends it invocation payloads (not raw HTTP), and has
// the extension bundle that provides the Event Grid and timer triggers.
func TestHostJSON(t *testing.T) {
	var host struct {
		Version         string `json:"version"`
		FunctionTimeout string `json:"functionTimeout"`
		ExtensionBundle struct {
			ID      string `json:"id"`
			Version string `json:"version"`
		} `json:"extensionBundle"`
		CustomHandler *struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
			EnableForwardingHTTPRequest *bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
	}
	readJSON(t, "host.json", &host)
	if host.Version != "2.0" {
		t.Errorf("version = %q, want 2.0", host.Version)
	}
	if host.FunctionTimeout == "" {
		t.Error("no functionTimeout: the plan's default applies")
	}
	if host.ExtensionBundle.ID != "Microsoft.Azure.Functions.ExtensionBundle" || host.ExtensionBundle.Version == "" {
		t.Errorf("extensionBundle = %+v: the Event Grid and timer triggers come from the bundle", host.ExtensionBundle)
	}
	if host.CustomHandler == nil {
		t.Fatal("host.json has no customHandler section")
	}
	if got := host.CustomHandler.Description.DefaultExecutablePath; got != "handler" {
		t.Errorf("defaultExecutablePath = %q, want handler (the binary the build writes)", got)
	}
	if f := host.CustomHandler.EnableForwardingHTTPRequest; f == nil || *f {
		t.Error("enableForwardingHttpRequest must be false: the handler reads the invocation payload")
	}
}

// binding is one entry of a function.json "bindings" list.
type binding struct {
	Type         string `json:"type"`
	Name         string `json:"name"`
	Direction    string `json:"direction"`
	Schedule     string `json:"schedule"`
	RunOnStartup *bool  `json:"runOnStartup"`
	QueueName    string `json:"queueName"`
	Connection   string `json:"connection"`
}

// TestFunctionJSON: the function folders are exactly the ones the handler
// serves, and each trigger's binding name is the Data key the parser reads.
func TestFunctionJSON(t *testing.T) {
	want := map[string]binding{
		blobCreatedFunction: {Type: "eventGridTrigger", Name: eventGridBinding, Direction: "in"},
		resetFunction:       {Type: "timerTrigger", Name: timerBinding, Direction: "in"},
		fleetFunction:       {Type: "serviceBusTrigger", Name: fleetBinding, Direction: "in"},
	}
	found, _ := filepath.Glob(filepath.Join("*", "function.json"))
	var folders []string
	for _, f := range found {
		folders = append(folders, filepath.Dir(f))
	}
	if len(folders) != len(want) {
		t.Errorf("function folders = %v, want %s, %s and %s", folders, blobCreatedFunction, resetFunction, fleetFunction)
	}
	for fn, w := range want {
		t.Run(fn, func(t *testing.T) {
			var fj struct {
				Bindings []binding `json:"bindings"`
			}
			readJSON(t, filepath.Join(fn, "function.json"), &fj)
			if len(fj.Bindings) != 1 {
				t.Fatalf("%d bindings, want the trigger alone", len(fj.Bindings))
			}
			b := fj.Bindings[0]
			if b.Type != w.Type || b.Name != w.Name || b.Direction != w.Direction {
				t.Errorf("binding = %+v, want type %s, name %s, direction %s", b, w.Type, w.Name, w.Direction)
			}
			if w.Type == "timerTrigger" {
				if !strings.HasPrefix(b.Schedule, "%") || !strings.HasSuffix(b.Schedule, "%") || len(b.Schedule) < 3 {
					t.Errorf("schedule = %q, want an app setting reference %%NAME%%", b.Schedule)
				}
				if b.RunOnStartup == nil || *b.RunOnStartup {
					t.Error("runOnStartup must be false: a restart must not reset a database")
				}
			}
			if w.Type == "serviceBusTrigger" {
				// The queue and the identity-based connection infra/azure
				// sets (PGMI_FLEET_QUEUE, FleetServiceBus__*).
				if b.QueueName != "%PGMI_FLEET_QUEUE%" || b.Connection != "FleetServiceBus" {
					t.Errorf("queueName %q, connection %q; want %%PGMI_FLEET_QUEUE%% and FleetServiceBus (infra/azure's app settings)", b.QueueName, b.Connection)
				}
			}
		})
	}
	if !slices.Contains(folders, blobCreatedFunction) || !slices.Contains(folders, resetFunction) || !slices.Contains(folders, fleetFunction) {
		t.Errorf("function folders = %v", folders)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
