"""The operator's web console (`web.listen`): pages over the feeds, items, stories and alerts."""
