package main

import (
	"flowbox/appliance/shell"
)

func init() {
	commands["shell"] = command{"interactive shell on a running appliance's control socket", shellCmd}
}

const shellUsage = `
usage: flowbox shell [-s PATH] [-c 'CMD; CMD'] [--history FILE] [SCRIPT]

Connects to the control socket of 'flowbox run -p PATH' and runs commands
on the running appliance: show elements|classes|graph|threads|ports|errors,
read, write, doc, top, trace add/show trace, pcap, config load/diff, clear
counters, lua, help. Interactively it offers Tab completion (commands,
element and handler names, classes, files) and a persistent history.

With -c the ';'-separated commands run in order and print their results
(read prints the bare value). With SCRIPT (or a non-terminal stdin) each
line is a command; '#' starts a comment. A failing command prints one
"error: ..." line on stderr and the others still run; the exit status is
then 1.

The socket is -s PATH, else $FLOWBOX_SOCKET, else ./fb.sock if it exists,
else /run/flowbox/control.sock (flowbox boot's) if it exists; -s
tcp:127.0.0.1:PORT connects to a --control TCP port. History goes to
$FLOWBOX_HISTORY, else ~/.flowbox_history.`

func shellCmd(args []string) int {
	var opt shell.Options
	fs := newFlagSet("shell", shellUsage)
	fs.StringVar(&opt.Socket, "s", "", "control socket `PATH` (or tcp:HOST:PORT); default $FLOWBOX_SOCKET, else ./fb.sock, else /run/flowbox/control.sock")
	fs.StringVar(&opt.Commands, "c", "", "run the ';'-separated `COMMANDS` and exit")
	fs.StringVar(&opt.History, "history", "", "history `FILE` (default $FLOWBOX_HISTORY, else ~/.flowbox_history; '-' for none)")
	var scripts []string
	if err := parseInterspersed(fs, args, func(a string) error { scripts = append(scripts, a); return nil }); err != nil {
		return exitUsage(stderr, err)
	}
	if len(scripts) > 1 {
		fs.Usage()
		return 2
	}
	if len(scripts) == 1 {
		opt.Script = scripts[0]
	}
	return shell.Main(opt)
}
