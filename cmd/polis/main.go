// Command polis is the police officer's client of the sekretessbroker; run
// "polis help" for what it does, in plain language.
package main

import (
	"os"

	"github.com/sekretessbroker/sekretessbroker/clients/desk"
)

func main() { os.Exit(desk.Main("polis")) }
