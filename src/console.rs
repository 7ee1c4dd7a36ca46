//! Console line prefixes: timestamps, caller ids, syslog levels.
