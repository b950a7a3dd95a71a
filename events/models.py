# Live events, lineups, highlights and stream sessions arrive with the live-events work.
