// Prompts in the default model's world (Moby Dick, State of the Union addresses, Debian fortunes),
// varied in length and topic so the batch's tokens route to different experts.
export const COMPLETION_PROMPTS = [
  'Call me Ishmael.',
  'Mr. Speaker, the state of the Union',
  'The whale',
  'A fool and his money',
  'Fellow citizens of the Senate and of the House of Representatives:',
  'It was a dark and stormy night',
  'The captain stood upon the deck and',
  'Q: Why did the chicken cross the road?',
];

export const CHAT_PROMPTS = [
  'Tell me about the white whale.',
  'What is the state of the Union?',
  'Give me a fortune.',
  'Who was Captain Ahab?',
  'What should Congress do this year?',
  'Describe the sea at night.',
  'Say something wise.',
  'What is a harpoon?',
];
