package functest

import (
	"io/fs"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/templates"
	"github.com/pgmi-cloud/pgmi/internal/testbundle"
)

// templatesDeploy deploys each project template of pgmi init, as a signed
// bundle, into a database of its own (routed by key prefix: basic into the
// target database, advanced into the reset database, the two the harness
// prepared for the function's identity), twice: the first upload builds
// the project, a second upload of the same project under another key
// redeploys it, running nothing one-time again.
func templatesDeploy(t *testing.T, s *Setup, h Harness) {
	dbs := map[string]string{"basic": s.Database, "advanced": s.ResetDB}
	routes := `[{"prefix":"basic/","database":"` + s.Database + `"},{"prefix":"advanced/","database":"` + s.ResetDB + `"}]`
	in := h.Start(t, Options{Env: map[string]string{"PGMI_ROUTES": routes}})
	for _, name := range templates.Names() {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{}
			sub, err := fs.Sub(templates.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := fs.ReadFile(sub, p)
				files[p] = string(data)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			// What each template records of the one-time work it did.
			record := map[string]string{"basic": "SELECT count(*) FROM public.schema_migration",
				"advanced": "SELECT count(*) FROM deploy_log.script_run"}[name]
			var recorded []int
			for _, key := range []string{name + "/1.0.tgz", name + "/1.0-again.tgz"} {
				obj := h.Upload(t, key, testbundle.Pack(t, s.Key, name, files))
				expectAck(t, in.Deliver(t, obj))
				if l := lastLine(t, in, obj.Key); l.Outcome() != "deployed" {
					t.Fatalf("%s: outcome %q, want deployed: %v", key, l.Outcome(), l)
				}
				recorded = append(recorded, s.count(t, dbs[name], record))
			}
			if recorded[0] == 0 || recorded[1] != recorded[0] {
				t.Fatalf("%s: %s gave %v over the two deploys; want the same, non-zero", name, record, recorded)
			}
			if n := s.count(t, dbs[name], "SELECT count(*) FROM pg_namespace WHERE nspname = 'app'"); n != 1 {
				t.Fatalf("the %s template's schema app is missing in %s", name, dbs[name])
			}
		})
	}
}
