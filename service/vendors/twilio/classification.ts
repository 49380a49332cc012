// Every operation of Twilio's 2010 API that writes, classified from Twilio's own description (twilio_api_v2010.json;
// the classification test walks every write in it). Routes are matched without the format suffix: `Messages`,
// `Messages.json` and `Messages.xml` are one resource (https://www.twilio.com/docs/usage/twilios-response).
// Reads are free, except those that reveal credentials; an unlisted write is refused.
import { pattern } from '../endpoints';
import { credential, free, refused } from '../classify';
import type { VendorRoute } from '../types';
import { prepareCall, priceCall, priceMessage, settleMessage } from './pricing';

const A = '/2010-04-01/Accounts/{AccountSid}';

export const twilioRoutes: VendorRoute[] = [
  ...credential('returns or changes the account\'s own auth token, or creates subaccounts whose tokens come back in the answer', '* /2010-04-01/Accounts', '* /2010-04-01/Accounts/{Sid}'),
  ...credential(
    'mints, lists or revokes credentials: API keys, signing keys, SIP credentials and the access lists that decide who may call, network traversal tokens, Connect apps',
    `* ${A}/Keys`, `* ${A}/Keys/**`, `* ${A}/SigningKeys`, `* ${A}/SigningKeys/**`, `* ${A}/SIP/**`, `* ${A}/Tokens`,
    `* ${A}/ConnectApps`, `* ${A}/ConnectApps/**`, `* ${A}/AuthorizedConnectApps`, `* ${A}/AuthorizedConnectApps/**`,
  ),
  {
    method: 'POST',
    pattern: pattern(`POST ${A}/Messages`),
    class: 'priced',
    reason: 'SMS segments (GSM-7 or UCS-2) × the destination\'s price per segment, or one MMS with `MediaUrl`; settled to the segments Twilio reports',
    price: priceMessage,
    settle: settleMessage,
  },
  {
    method: 'POST',
    pattern: pattern(`POST ${A}/Calls`),
    class: 'priced',
    reason: 'every leg the inline TwiML can dial (and the call itself) × `TimeLimit` (injected or capped to `max_call_seconds`) × each destination\'s price per minute; a remote `Url` or `ApplicationSid` only with the key\'s `max_call_legs`',
    prepare: (req, policy, ctx) => prepareCall(req, policy.max_call_seconds ?? ctx.prices.twilio.max_call_seconds),
    price: priceCall,
  },
  ...refused(
    'costs money the request does not state: buying or reconfiguring numbers and short codes, redirecting live calls and queue members, conference participants (new calls), recordings, transcriptions, media streams and payments started on a live call, caller-id verification calls, TwiML applications',
    `POST ${A}/IncomingPhoneNumbers`, `POST ${A}/IncomingPhoneNumbers/Local`, `POST ${A}/IncomingPhoneNumbers/Mobile`, `POST ${A}/IncomingPhoneNumbers/TollFree`,
    `POST ${A}/IncomingPhoneNumbers/{Sid}`, `POST ${A}/IncomingPhoneNumbers/{Sid}/AssignedAddOns`, `POST ${A}/SMS/ShortCodes/{Sid}`,
    `POST ${A}/Calls/{Sid}`, `POST ${A}/Queues/{Sid}/Members/{Sid}`,
    `POST ${A}/Conferences/{Sid}`, `POST ${A}/Conferences/{Sid}/Participants`, `POST ${A}/Conferences/{Sid}/Participants/{Sid}`,
    `POST ${A}/Calls/{Sid}/Recordings`, `POST ${A}/Calls/{Sid}/Transcriptions`, `POST ${A}/Calls/{Sid}/Siprec`, `POST ${A}/Calls/{Sid}/Streams`,
    `POST ${A}/Calls/{Sid}/Payments`, `POST ${A}/Calls/{Sid}/Payments/{Sid}`, `POST ${A}/Calls/{Sid}/UserDefinedMessages`, `POST ${A}/Calls/{Sid}/UserDefinedMessageSubscriptions`,
    `POST ${A}/OutgoingCallerIds`, `POST ${A}/Applications`, `POST ${A}/Applications/{Sid}`,
  ),
  ...free(
    'stops, pauses, edits, redacts or deletes something that exists: no message is sent and no call is placed',
    `POST ${A}/Messages/{Sid}`, `DELETE ${A}/Messages/{Sid}`, `DELETE ${A}/Messages/{Sid}/Media/{Sid}`, `POST ${A}/Messages/{Sid}/Feedback`,
    `DELETE ${A}/Calls/{Sid}`, `POST ${A}/Calls/{Sid}/Recordings/{Sid}`, `DELETE ${A}/Calls/{Sid}/Recordings/{Sid}`, `POST ${A}/Calls/{Sid}/Transcriptions/{Sid}`,
    `POST ${A}/Calls/{Sid}/Siprec/{Sid}`, `POST ${A}/Calls/{Sid}/Streams/{Sid}`, `DELETE ${A}/Calls/{Sid}/UserDefinedMessageSubscriptions/{Sid}`,
    `POST ${A}/Conferences/{Sid}/Recordings/{Sid}`, `DELETE ${A}/Conferences/{Sid}/Recordings/{Sid}`, `DELETE ${A}/Conferences/{Sid}/Participants/{Sid}`,
    `DELETE ${A}/Recordings/{Sid}`, `DELETE ${A}/Recordings/{Sid}/AddOnResults/{Sid}`, `DELETE ${A}/Recordings/{Sid}/AddOnResults/{Sid}/Payloads/{Sid}`,
    `DELETE ${A}/Recordings/{Sid}/Transcriptions/{Sid}`, `DELETE ${A}/Transcriptions/{Sid}`,
    `DELETE ${A}/IncomingPhoneNumbers/{Sid}`, `DELETE ${A}/IncomingPhoneNumbers/{Sid}/AssignedAddOns/{Sid}`, `DELETE ${A}/Applications/{Sid}`,
    `POST ${A}/OutgoingCallerIds/{Sid}`, `DELETE ${A}/OutgoingCallerIds/{Sid}`,
  ),
  ...free(
    'records that cost nothing: addresses, queues, usage alerts',
    `POST ${A}/Addresses`, `POST ${A}/Addresses/{Sid}`, `DELETE ${A}/Addresses/{Sid}`,
    `POST ${A}/Queues`, `POST ${A}/Queues/{Sid}`, `DELETE ${A}/Queues/{Sid}`,
    `POST ${A}/Usage/Triggers`, `POST ${A}/Usage/Triggers/{Sid}`, `DELETE ${A}/Usage/Triggers/{Sid}`,
  ),
];

/** Format suffixes the 2010 API serves every resource under. */
const FORMAT = /\.(json|xml|csv|html|mp3|wav)$/i;

/** The segments routes are matched on: the last one without its format suffix. */
export function routeSegments(segments: readonly string[]): readonly string[] {
  const last = segments[segments.length - 1];
  if (last === undefined || !FORMAT.test(last)) return segments;
  return [...segments.slice(0, -1), last.replace(FORMAT, '')];
}
