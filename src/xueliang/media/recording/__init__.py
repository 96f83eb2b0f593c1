"""Recording a channel to disk: the recorder (`recorder`), the index it keeps (`index`), its segment
files' writing (`segment_io`) and reading back and repair, which need no event loop (`scan`)."""
