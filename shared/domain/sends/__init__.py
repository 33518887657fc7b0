"""What gift and notification sends share: accepting a send and splitting it into batches, the batch engine
(reserve, deliver, settle: each step one guarded transaction), the send actions (cancel, submit, resend) and the
periodic dispatch of what is due."""
