package yamlconf_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/modgate/modgate/internal/yamlconf"
)

type config struct {
	Listen string        `yaml:"listen"`
	TTL    time.Duration `yaml:"ttl"`
}

// validate returns every problem as field errors; it knows nothing of
// files.
func (c *config) validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, yamlconf.Errorf("listen", "must not be empty"))
	}
	if c.TTL < 0 {
		errs = append(errs, yamlconf.Errorf("ttl", "must not be negative"))
	}
	return errors.Join(errs...)
}

func Example() {
	src := "listen: \"\"\nttl: -1s\nlisten_addr: x\n"
	var c config
	doc, err := yamlconf.Decode("modgate.yaml", []byte(src), &c)
	if doc == nil {
		fmt.Println(err) // a syntax error: nothing was decoded
		return
	}
	// One report: decoding problems and validation problems, by line.
	fmt.Println(doc.Locate(errors.Join(err, c.validate())))
	// Output:
	// modgate.yaml:1: listen: must not be empty
	// modgate.yaml:2: ttl: must not be negative
	// modgate.yaml:3: listen_addr: unknown field
}

func ExampleSuggest() {
	fmt.Println(yamlconf.Suggest("licences", []string{"cooldown", "licenses", "vulnerabilities"}))
	// Output: licenses
}
