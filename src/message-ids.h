/* message-ids.h - the journal MESSAGE_IDs of bc26d's lifecycle events, one per kind, fixed
 * forever (the catalog in systemd/bc26d.catalog explains each). Query the upgrade history with
 * e.g. journalctl -u bc26d MESSAGE_ID=7e60e3bce53f4d58b30f1c28cbe4d087 */
#pragma once

#define BC26_MESSAGE_UPGRADE_STARTED    "7e60e3bce53f4d58b30f1c28cbe4d087"
#define BC26_MESSAGE_PHASE_CHANGED      "0cae0d7ca6bb4adcb3bdecae8a28fcfe"
#define BC26_MESSAGE_FINISHED_OK        "a30c707d8e9642058179efacf50cdca5"
#define BC26_MESSAGE_DOWNLOAD_FAILED    "4d587dff84b0431a977128437e09219d"
#define BC26_MESSAGE_UPDATE_FAILED      "9d803fa33f254a59a0fd6834487196d4"
#define BC26_MESSAGE_TIMED_OUT          "f201f47360964fa1bd9c369ae50bd39b"
#define BC26_MESSAGE_MODULE_RESET       "b796ca1eb31d456caba8e620c3d89ae5"
#define BC26_MESSAGE_MODULE_REBOOTED    "7e25d73591224a93b47fb9c5f43f6801"
