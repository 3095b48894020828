// Command rektor is the school rector's client of the sekretessbroker; run
// "rektor help" for what it does, in plain language.
package main

import (
	"os"

	"github.com/sekretessbroker/sekretessbroker/clients/desk"
)

func main() { os.Exit(desk.Main("rektor")) }
