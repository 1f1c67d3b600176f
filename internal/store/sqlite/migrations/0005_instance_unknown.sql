-- The "unknown" instance state is gone: nothing ever set it. A row still in it
-- would hold a max_runners slot with no way out, so it goes back to running,
-- where reconcile retires it if its provider no longer lists the machine.
UPDATE instances
   SET state = 'running', data = json_set(data, '$.state', 'running')
 WHERE state = 'unknown';
