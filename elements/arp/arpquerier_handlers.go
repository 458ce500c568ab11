package arp

import (
	"fmt"
	"strconv"
	"strings"

	"flowbox/appliance/core"
)

// Handlers exposes the table, counters and table edits.
func (q *ARPQuerier) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadOnly("table", q.tableText),
		core.ReadOnly("count", func() string { return strconv.Itoa(q.table.n) }),
		core.ReadOnly("length", func() string { return strconv.Itoa(q.queue.n) }),
		core.ReadUint("queries", &q.queries),
		core.ReadUint("responses", &q.responses),
		core.ReadUint("drops", &q.drops),
		core.WriteOnly("insert", q.insertHandler),
		core.WriteOnly("delete", q.deleteHandler),
		core.Action("clear", q.clear),
	}
}

func (q *ARPQuerier) tableText() string {
	var sb strings.Builder
	for i := range q.table.slots {
		e := &q.table.slots[i]
		if !e.used {
			continue
		}
		eth := "-"
		if e.known {
			eth = formatMAC(e.eth)
		}
		fmt.Fprintf(&sb, "%s %s queued=%d\n", formatIP(e.ip), eth, e.queued)
	}
	return sb.String()
}

func (q *ARPQuerier) insertHandler(s string) error {
	words := core.SplitWords(s)
	if len(words) != 2 {
		return fmt.Errorf("expected 'IP ETH', got %q", s)
	}
	ip, err := core.ParseIPv4(words[0])
	if err != nil {
		return err
	}
	eth, err := core.ParseEther(words[1])
	if err != nil {
		return err
	}
	e := q.table.insert(addrU32(ip))
	if e == nil {
		return fmt.Errorf("ARP table full")
	}
	e.known, e.eth, e.updated = true, eth, q.now
	q.releasePending = q.releasePending || e.queued > 0
	return nil
}

func (q *ARPQuerier) deleteHandler(s string) error {
	ip, err := core.ParseIPv4(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	if !q.deleteEntry(q.pool, addrU32(ip)) {
		return fmt.Errorf("%s: not in the table", ip)
	}
	return nil
}

func (q *ARPQuerier) clear() {
	for i := range q.table.slots {
		for q.table.slots[i].used {
			q.deleteEntry(q.pool, q.table.slots[i].ip)
		}
	}
}
