/**
 * The failure reasons are listed once in TypeScript and once in the addon (it counts them): the
 * two are compared when the addon loads, so a drift fails there with a message, never as a
 * TypeError inside stats().
 */
import { native } from '../../src/common/native';
import { checkNativeList, RESUMPTION_FAILURE_REASONS } from '../../src/common/stats';

describe('lists shared with the addon', () => {
  test('the loaded addon counts exactly RESUMPTION_FAILURE_REASONS, in that order', () => {
    expect(native.resumptionFailureReasons).toEqual([...RESUMPTION_FAILURE_REASONS]);
  });

  test('an addon whose list differs is refused with a message that says what to do', () => {
    const drifted = [...native.resumptionFailureReasons, 'newReason'];
    expect(() => checkNativeList('resumption failure reasons', drifted, RESUMPTION_FAILURE_REASONS)).toThrow(
      /^tls-resumption: the native addon's resumption failure reasons \(.*"newReason"\]\) differ from this JavaScript's .*run `npm rebuild tls-resumption`$/,
    );
    expect(() => checkNativeList('resumption failure reasons', undefined, RESUMPTION_FAILURE_REASONS)).toThrow(/\(undefined\) differ/);
    const reordered = [...RESUMPTION_FAILURE_REASONS].reverse();
    expect(() => checkNativeList('resumption failure reasons', reordered, RESUMPTION_FAILURE_REASONS)).toThrow(/differ/);
  });
});
