-- Users table
/* licence: MIT */
/*
  <pgmi-meta id="{6F1C2A4E-8D3B-4C7A-9E21-5B0D4F6A7C83}" idempotent=" True " author="ignored">
    <description>  Creates the users table  </description>
    <sortKeys>
      <key>10-schema/0010</key>
      <key>  90-late  </key>
    </sortKeys>
    <unknown>ignored</unknown>
  </pgmi-meta>
*/
CREATE TABLE users (id int);
