package bot

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestDocsNameEveryOption checks that docs/bot.md documents every key of
// the bot's section (as `bot.key.path` in backticks) and of
// .github/modgate.yaml (as `key.path`, list elements as `list[].key`).
func TestDocsNameEveryOption(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "bot.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	var missing []string
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			path := prefix + name
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft == reflect.TypeFor[RepoConfig]():
				// bot.defaults: the repository keys, checked below.
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]():
				walk(ft, path+".")
				continue
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), path+"[].")
				continue
			}
			if !strings.Contains(doc, "`"+path+"`") {
				missing = append(missing, path)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "bot.")
	walk(reflect.TypeFor[RepoConfig](), "")
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("docs/bot.md does not document these keys (as `key` in backticks):\n\t%s", strings.Join(missing, "\n\t"))
	}
	for _, flag := range []string{"--config", "--once", "--schedule", "--timezone", "--dry-run", "--local", "--check-config", "--repo", "--org", "--modgate", "--json-log"} {
		if !strings.Contains(doc, "`"+flag) {
			t.Errorf("docs/bot.md does not document %s", flag)
		}
	}
}
