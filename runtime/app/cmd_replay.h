/* cmd_replay.h - `siemrelay replay`: a running gateway replays an
 * integration's dead letters (POST /api/integrations/{name}/replay, see
 * deadletter_replay.h), and the counts are printed.
 *
 *   siemrelay replay -i NAME [--stage S] [--reason TEXT] [--since TIME]
 *                    [--until TIME] [-c FILE ...] [--admin HOST:PORT]
 *
 * The address comes as for `siemrelay status` (admin_client.h); the admin
 * token from $SIEMRELAY_ADMIN_TOKEN. Prints
 *   replayed N record(s) of integration 'NAME'; K line(s) kept (E event(s) with no record)
 * Exit status: 0 replayed (N may be 0); 1 the gateway is not reachable or
 * refused (one line on stderr says why); 2 usage or configuration error. */
#ifndef SR_CMD_REPLAY_H
#define SR_CMD_REPLAY_H

/* argv[0] is "replay". Returns the exit status. */
int sr_cmd_replay(int argc, char **argv);

#endif
