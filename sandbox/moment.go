package sandbox

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/schema"
)

// parseTZOffset reads the x-tz-offset header: hours east of UTC, possibly
// fractional ("-4", "5.5"; docs/close-api.md §4.6). Empty means UTC.
func parseTZOffset(h string) (*time.Location, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return time.UTC, nil
	}
	f, err := strconv.ParseFloat(h, 64)
	if err != nil || math.IsNaN(f) || f < -14 || f > 14 {
		return nil, fmt.Errorf("x-tz-offset must be a number of hours between -14 and 14, got %q", h)
	}
	secs := int(math.Round(f * 3600))
	return time.FixedZone(fmt.Sprintf("UTC%+g", f), secs), nil
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// moment resolves one end of a moment_range to an instant. Relative
// moments are worked out in the request's timezone (docs/close-api.md §2.4).
// All moment types are observed in Close UI payloads, not documented
// (docs/close-api.md §3.5); the details below are [INF] and noted where made.
func (e *evaluator) moment(m schema.Moment, ptr string) (time.Time, error) {
	now := e.now.In(e.loc)
	switch x := m.(type) {
	case nil:
		return now, nil
	case *schema.Now:
		return now, nil
	case *schema.FixedUTC:
		t, err := parseCloseTime(x.Value)
		if err != nil {
			return time.Time{}, qerr(ptr+"/value", "fixed_utc value %q is not an ISO-8601 datetime", x.Value)
		}
		return t, nil
	case *schema.FixedLocalDate:
		d, err := time.ParseInLocation("2006-01-02", x.Value, e.loc)
		if err != nil {
			return time.Time{}, qerr(ptr+"/value", "fixed_local_date value %q is not a YYYY-MM-DD date", x.Value)
		}
		return pickEnd(d, d.AddDate(0, 0, 1), x.Which, ptr+"/which")
	case *schema.Offset:
		base, err := e.moment(x.Moment, ptr+"/moment")
		if err != nil {
			return time.Time{}, err
		}
		base = base.In(e.loc)
		sign := 1
		switch x.Direction {
		case "past":
			sign = -1
		case "future": // [INF] only "past" has been seen
		default:
			return time.Time{}, qerr(ptr+"/direction", "offset direction must be \"past\" or \"future\", got %q", x.Direction)
		}
		o := x.Offset
		t := base.AddDate(sign*o.Years, sign*o.Months, sign*(o.Weeks*7+o.Days))
		t = t.Add(time.Duration(sign) * (time.Duration(o.Hours)*time.Hour + time.Duration(o.Minutes)*time.Minute + time.Duration(o.Seconds)*time.Second))
		// which_day_end snaps a day-granular offset to the start or end of
		// its day. An offset with hours, minutes or seconds is kept to the
		// second: Close's UI sends which_day_end with every offset, and
		// "created in the last 60 minutes" (real-queries/32) would
		// otherwise mean "since midnight" [INF].
		if o.Hours != 0 || o.Minutes != 0 || o.Seconds != 0 || x.WhichDayEnd == "" {
			return t, nil
		}
		d := startOfDay(t)
		return pickEnd(d, d.AddDate(0, 0, 1), x.WhichDayEnd, ptr+"/which_day_end")
	case *schema.PredefinedPeriod:
		start, end, ok := periodRange(now, x.Range)
		if !ok {
			return time.Time{}, unsup(ptr+"/range", "unknown relative period %q (the sandbox knows %s)", x.Range, strings.Join(periodNames, ", "))
		}
		return pickEnd(start, end, x.Which, ptr+"/which")
	case *schema.UnknownMoment:
		return time.Time{}, unsup(ptr, "unknown moment type %q", x.Type)
	}
	return time.Time{}, qerr(ptr, "unknown moment type %q", m.MomentType())
}

// pickEnd chooses the start or the end of a day or period. The end is the
// first instant after it, so `before: end of today` includes all of today.
func pickEnd(start, end time.Time, which schema.Which, ptr string) (time.Time, error) {
	switch which {
	case schema.Start, "":
		return start, nil
	case schema.End:
		return end, nil
	}
	return time.Time{}, qerr(ptr, "which must be \"start\" or \"end\", got %q", which)
}

var periodNames = []string{"today", "yesterday", "tomorrow", "this_week", "last_week", "next_week",
	"this_month", "last_month", "next_month", "this_quarter", "last_quarter", "next_quarter",
	"this_year", "last_year", "next_year"}

// periodRange is a named relative period as [start, end) around now. Only
// "today" has been seen in Close payloads; the other names and Monday as
// the first day of a week are [INF].
func periodRange(now time.Time, name string) (time.Time, time.Time, bool) {
	day := startOfDay(now)
	y, m, _ := now.Date()
	loc := now.Location()
	month := time.Date(y, m, 1, 0, 0, 0, 0, loc)
	week := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	quarter := time.Date(y, time.Month((int(m)-1)/3*3+1), 1, 0, 0, 0, 0, loc)
	year := time.Date(y, 1, 1, 0, 0, 0, 0, loc)
	switch name {
	case "today":
		return day, day.AddDate(0, 0, 1), true
	case "yesterday":
		return day.AddDate(0, 0, -1), day, true
	case "tomorrow":
		return day.AddDate(0, 0, 1), day.AddDate(0, 0, 2), true
	case "this_week":
		return week, week.AddDate(0, 0, 7), true
	case "last_week":
		return week.AddDate(0, 0, -7), week, true
	case "next_week":
		return week.AddDate(0, 0, 7), week.AddDate(0, 0, 14), true
	case "this_month":
		return month, month.AddDate(0, 1, 0), true
	case "last_month":
		return month.AddDate(0, -1, 0), month, true
	case "next_month":
		return month.AddDate(0, 1, 0), month.AddDate(0, 2, 0), true
	case "this_quarter":
		return quarter, quarter.AddDate(0, 3, 0), true
	case "last_quarter":
		return quarter.AddDate(0, -3, 0), quarter, true
	case "next_quarter":
		return quarter.AddDate(0, 3, 0), quarter.AddDate(0, 6, 0), true
	case "this_year":
		return year, year.AddDate(1, 0, 0), true
	case "last_year":
		return year.AddDate(-1, 0, 0), year, true
	case "next_year":
		return year.AddDate(1, 0, 0), year.AddDate(2, 0, 0), true
	}
	return time.Time{}, time.Time{}, false
}
